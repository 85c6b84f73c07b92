import Engine
import XCTest

/// The kernel set the executable runs on, chosen at start (Engine/BLASKernels.swift).
extension RunTests {
    /// The "BLAS kernels ..." line of `tutor bench engine --kernels`.
    func kernelsLine(_ environment: [String: String]) throws -> String {
        var env = environment
        for key in [BLASKernels.coreVariable, BLASKernels.stateVariable] where env[key] == nil { env[key] = "" }
        let (status, output) = try run(["bench", "engine", "--kernels"], environment: env)
        XCTAssertEqual(status, 0, output)
        return try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix("BLAS kernels ") }.map(String.init), output)
    }

    func testTheExecutableNeverRunsAKernelSetBelowWhatTheProcessorTakes() throws {
        let line = try kernelsLine([:])
        guard let best = BLASKernels.best(for: .current) else { throw XCTSkip("this processor has only SSE") }
        let inUse = String(line.dropFirst("BLAS kernels ".count).prefix { $0 != " " })
        XCTAssertGreaterThanOrEqual(BLASKernels.rank(of: inUse), BLASKernels.rank(of: best), line)
    }

    func testAUsersSettingWins() throws {
        let line = try kernelsLine([BLASKernels.coreVariable: "Prescott"])
        XCTAssertTrue(line.hasPrefix("BLAS kernels Prescott (set by OPENBLAS_CORETYPE=Prescott)"), line)
    }

    func testTheReexecutedProcessChecksItsKernelsAndRecordsTheChoice() throws {
        guard BLASKernels.best(for: .current) != nil, BLASKernels.Processor.current.avx2 else {
            throw XCTSkip("this processor cannot run OpenBLAS's Haswell kernels")
        }
        // the state tutor sets before executing itself again with a better set than OpenBLAS's own
        let line = try kernelsLine([BLASKernels.coreVariable: "Haswell", BLASKernels.stateVariable: "check:Haswell:Prescott"])
        XCTAssertTrue(line.hasPrefix("BLAS kernels Haswell (chosen by tutor in place of OpenBLAS's Prescott, after a numerical check)"), line)
    }
}

import XCTest
@testable import Engine

/// The start-up choice of OpenBLAS's kernel set, as a function of the environment, the set the
/// library loaded, the processor and the numerical check.
final class BLASKernelsTests: XCTestCase {
    var sapphireRapids: BLASKernels.Processor {
        var p = BLASKernels.Processor()
        p.avx = true; p.fma = true; p.avx2 = true
        p.avx512f = true; p.avx512cd = true; p.avx512bw = true; p.avx512dq = true; p.avx512vl = true
        p.avx512bf16 = true
        p.vendor = "Intel"; p.family = 6; p.model = 0xcf
        return p
    }

    func decide(_ env: [String: String], inUse: String, _ p: BLASKernels.Processor, passes: Bool = true,
                checked: UnsafeMutablePointer<Bool>? = nil) -> BLASKernels.Decision {
        BLASKernels.decide(environment: env, inUse: inUse, processor: p, check: { checked?.pointee = true; return passes })
    }

    func testTheBestSetFollowsTheProcessorsFeatures() {
        var p = sapphireRapids
        XCTAssertEqual(BLASKernels.best(for: p), "Cooperlake")
        p.avx512bf16 = false
        XCTAssertEqual(BLASKernels.best(for: p), "SkylakeX")
        p.avx512vl = false  // an incomplete AVX-512 is not SkylakeX's
        XCTAssertEqual(BLASKernels.best(for: p), "Haswell")
        p = BLASKernels.Processor()
        p.avx = true
        XCTAssertEqual(BLASKernels.best(for: p), "Sandybridge")
        XCTAssertNil(BLASKernels.best(for: BLASKernels.Processor()))
    }

    func testAGenericSetOnABetterProcessorIsReplacedWithoutCheckingYet() {
        var checked = false
        XCTAssertEqual(decide([:], inUse: "Prescott", sapphireRapids, checked: &checked),
                       .reexec(["OPENBLAS_CORETYPE": "Cooperlake", "TUTOR_BLAS_KERNELS": "check:Cooperlake:Prescott"]))
        XCTAssertFalse(checked, "the check runs in the new process, on the new kernels")
        XCTAssertEqual(decide(["OPENBLAS_CORETYPE": ""], inUse: "Nehalem", sapphireRapids),
                       .reexec(["OPENBLAS_CORETYPE": "Cooperlake", "TUTOR_BLAS_KERNELS": "check:Cooperlake:Nehalem"]),
                       "an empty setting is no setting")
    }

    func testTheLibrarysOwnGoodChoiceIsKept() {
        XCTAssertEqual(decide([:], inUse: "Cooperlake", sapphireRapids), .keep)
        XCTAssertEqual(decide([:], inUse: "SapphireRapids", sapphireRapids), .keep, "a newer library's name is trusted")
        var zen3 = sapphireRapids
        zen3.avx512f = false; zen3.avx512bf16 = false
        XCTAssertEqual(decide([:], inUse: "Zen", zen3), .keep)
    }

    func testAUsersSettingAndAnEarlierDecisionWin() {
        XCTAssertEqual(decide(["OPENBLAS_CORETYPE": "Prescott"], inUse: "Prescott", sapphireRapids), .keep)
        XCTAssertEqual(decide(["TUTOR_BLAS_KERNELS": "auto:Cooperlake:Prescott", "OPENBLAS_CORETYPE": "Cooperlake"],
                              inUse: "Cooperlake", sapphireRapids), .keep)
        XCTAssertEqual(decide(["TUTOR_BLAS_KERNELS": "failed:Cooperlake:Prescott", "OPENBLAS_CORETYPE": "Prescott"],
                              inUse: "Prescott", sapphireRapids), .keep, "a failed check is not retried by children")
    }

    func testTheReexecutedProcessKeepsTheSetOnlyIfItsProductsAreRight() {
        let env = ["OPENBLAS_CORETYPE": "Cooperlake", "TUTOR_BLAS_KERNELS": "check:Cooperlake:Prescott"]
        XCTAssertEqual(decide(env, inUse: "Cooperlake", sapphireRapids, passes: true), .record("auto:Cooperlake:Prescott"))
        XCTAssertEqual(decide(env, inUse: "Cooperlake", sapphireRapids, passes: false),
                       .reexec(["OPENBLAS_CORETYPE": "Prescott", "TUTOR_BLAS_KERNELS": "failed:Cooperlake:Prescott"]))
    }

    func testTheSelfCheckPassesOnTheKernelsLoaded() {
        let (passed, error) = BLASKernels.selfCheck()
        XCTAssertTrue(passed, "max relative error \(error) on \(BLASKernels.inUse)")
        XCTAssertLessThan(error, 1e-5)
    }
}

// swift-tools-version: 6.0
import PackageDescription

// libFuzzer targets for every parser of a file a user hands tutor. A package of its own, so
// that `swift build` and `swift test` in the repository never build them: they link only with
// `-sanitize=fuzzer`. Build and run them with scripts/fuzz (README, "Fuzzing").
//
// Each fuzzer is an ordinary program that hands its function to libFuzzer's driver
// (FuzzSupport's `fuzz`): SwiftPM links an executable's main under the module's name, which
// a library-only LLVMFuzzerTestOneInput would leave undefined.
let package = Package(
    name: "tutor-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "tutor", path: ".."),
    ],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),
        .executableTarget(name: "FuzzJSON", dependencies: ["FuzzSupport", .product(name: "TutorInputs", package: "tutor")]),
        .executableTarget(name: "FuzzRules", dependencies: ["FuzzSupport", .product(name: "TutorInputs", package: "tutor")]),
        .executableTarget(name: "FuzzSafetensors", dependencies: ["FuzzSupport", .product(name: "TutorInputs", package: "tutor")]),
        .executableTarget(name: "FuzzJPEG", dependencies: ["FuzzSupport", .product(name: "TutorInputs", package: "tutor")]),
        .executableTarget(name: "FuzzTaskFolder", dependencies: ["FuzzSupport", .product(name: "TutorInputs", package: "tutor")]),
        .executableTarget(name: "FuzzPNG", dependencies: ["FuzzSupport", .product(name: "TutorInputs", package: "tutor")]),
    ],
    swiftLanguageModes: [.v6]
)

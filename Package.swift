// swift-tools-version: 6.0
import PackageDescription

// Layout: C at the bottom (CBLAS, CJPEG, CPNG, CImage, CInotify, CSystem, and CKernels: the engine's
// attention and GELU); Basics (the seeded random generator; the one JSON value, parser and
// writer) and System (every system call more than one module needs: atomic writes, renames,
// file kinds, clocks, memory, messages on standard error); Verdicts (verdict.json's type and
// error codes, tensor-free, for Adaptation and Spool); Media and ModelFiles for files on disk;
// Engine is the numeric core and knows nothing of tasks; Teacher, Tasks and Reasoner build on
// it (the Reasoner knows nothing of the generated families: Training joins the two);
// Adaptation runs one task end to end; Spool serves a spool of task folders and knows nothing
// of tensors; `tutor` is the command line.
let package = Package(
    name: "tutor",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tutor", targets: ["tutor"]),
        // for the fuzzers in Fuzz/, a package of their own that depends on this one by path
        .library(name: "TutorInputs", targets: ["Basics", "Media", "ModelFiles", "Teacher", "TaskFolder"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // the area and block averages for AVX-512 or AVX2, and the one choice of instruction set
        // for the image code (the decoders below ask it): optimised in every build, and never a
        // fused multiply-add, so its values are the same on every processor
        .target(name: "CImage", cSettings: [.unsafeFlags(["-O2", "-ffp-contract=off"])]),
        .target(name: "CJPEG", dependencies: ["CImage"], linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "CPNG", dependencies: ["CImage"], linkerSettings: [.linkedLibrary("png"), .linkedLibrary("deflate")]),
        .systemLibrary(name: "CInotify", providers: [.apt(["libinotifytools0-dev"])]),
        // libc declarations Swift does not import (renameat2, close_range, pipe2, prctl)
        .target(name: "CSystem"),
        // the engine's hand-written attention and GELU: optimised in every build, tests included
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2", "-Wno-psabi"])]),

        .target(name: "Basics"),
        .target(name: "System", dependencies: ["CSystem"]),
        .target(name: "Media", dependencies: ["CImage", "CJPEG", "CPNG"]),
        .target(name: "Verdicts", dependencies: ["Basics"]),
        .target(name: "ModelFiles", dependencies: ["Basics", "System"]),
        .target(name: "Engine", dependencies: ["Basics", "System", "CBLAS", "CKernels"]),
        .target(name: "Teacher", dependencies: ["Basics", "Media"]),
        .target(name: "Tasks", dependencies: ["Basics", "Media"]),
        .target(name: "Reasoner", dependencies: ["Basics", "Engine", "Media", "ModelFiles", "System"]),
        .target(name: "Training", dependencies: ["Basics", "Engine", "Media", "ModelFiles", "Reasoner", "System", "Tasks", "TaskFolder", "Teacher"]),
        .target(name: "TaskFolder", dependencies: ["Basics", "Media", "System", "Teacher"]),
        .target(name: "Adaptation", dependencies: ["Basics", "Engine", "Media", "ModelFiles", "Teacher", "Reasoner", "System", "TaskFolder", "Verdicts"]),
        .target(name: "Spool", dependencies: ["Basics", "CInotify", "System", "Verdicts"]),
        .executableTarget(name: "tutor", dependencies: [
            "Basics", "Media", "ModelFiles", "Engine", "Teacher", "Tasks", "Reasoner", "Training", "TaskFolder", "Adaptation", "Spool", "System", "Verdicts",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // helpers shared by the test targets
        .target(name: "TestSupport", dependencies: ["Basics", "Media", "Reasoner"], path: "Tests/TestSupport"),
        .testTarget(name: "BasicsTests", dependencies: ["Basics"]),
        .testTarget(name: "SystemTests", dependencies: ["System"]),
        .testTarget(name: "MediaTests", dependencies: ["Media"]),
        .testTarget(name: "ModelFilesTests", dependencies: ["Basics", "ModelFiles"]),
        .testTarget(name: "EngineTests", dependencies: ["Basics", "Engine", "System"]),
        .testTarget(name: "TeacherTests", dependencies: ["Basics", "Teacher", "Tasks", "Media"]),
        .testTarget(name: "TasksTests", dependencies: ["Basics", "Media", "Tasks", "Teacher"]),
        .testTarget(name: "ReasonerTests", dependencies: ["Basics", "Reasoner", "TestSupport", "Engine", "Tasks", "ModelFiles"]),
        .testTarget(name: "TrainingTests", dependencies: ["Basics", "Engine", "Media", "Reasoner", "Tasks", "System", "TestSupport", "Training"]),
        .testTarget(name: "TaskFolderTests", dependencies: ["Basics", "TaskFolder", "Media"]),
        .testTarget(name: "AdaptationTests", dependencies: ["Basics", "Adaptation", "TaskFolder", "Tasks", "Teacher", "Reasoner", "Engine", "Media", "System"]),
        .testTarget(name: "SpoolTests", dependencies: ["Basics", "Spool", "System", "TestSupport", "Verdicts"]),
        .testTarget(name: "EndToEndTests", dependencies: ["tutor", "Basics", "Reasoner", "Engine", "Media", "Spool", "TestSupport", "Verdicts"]),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version: 6.0
import PackageDescription

// Layout: C at the bottom (CBLAS, CJPEG, CPNG, CInotify, and CKernels: the engine's attention and
// GELU); Basics (the seeded random generator); Media and ModelFiles for files on disk; Engine
// is the numeric core and knows nothing of tasks; Teacher, Tasks and Reasoner build on it (the
// Reasoner knows nothing of the generated families: Training joins the two);
// Adaptation runs one task end to end; Spool serves a spool of task folders and knows nothing
// of tensors; `tutor` is the command line.
let package = Package(
    name: "tutor",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tutor", targets: ["tutor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "CPNG", linkerSettings: [.linkedLibrary("png")]),
        .systemLibrary(name: "CInotify", providers: [.apt(["libinotifytools0-dev"])]),
        // the engine's hand-written attention and GELU: optimised in every build, tests included
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2", "-Wno-psabi"])]),

        .target(name: "Basics"),
        .target(name: "Media", dependencies: ["CJPEG", "CPNG"]),
        .target(name: "ModelFiles"),
        .target(name: "Engine", dependencies: ["Basics", "CBLAS", "CKernels"]),
        .target(name: "Teacher", dependencies: ["Media"]),
        .target(name: "Tasks", dependencies: ["Basics", "Media", "Teacher"]),
        .target(name: "Reasoner", dependencies: ["Basics", "Engine", "Media", "ModelFiles"]),
        .target(name: "Training", dependencies: ["Basics", "Engine", "Media", "ModelFiles", "Reasoner", "Tasks", "TaskFolder", "Teacher"]),
        .target(name: "TaskFolder", dependencies: ["Media", "ModelFiles", "Teacher"]),
        .target(name: "Adaptation", dependencies: ["Basics", "Engine", "Media", "ModelFiles", "Teacher", "Reasoner", "TaskFolder"]),
        .target(name: "Spool", dependencies: ["CInotify"]),
        .executableTarget(name: "tutor", dependencies: [
            "Basics", "Media", "ModelFiles", "Engine", "Teacher", "Tasks", "Reasoner", "Training", "TaskFolder", "Adaptation", "Spool",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // helpers shared by the test targets
        .target(name: "TestSupport", dependencies: ["Media", "Reasoner"], path: "Tests/TestSupport"),
        .testTarget(name: "MediaTests", dependencies: ["Media"]),
        .testTarget(name: "ModelFilesTests", dependencies: ["ModelFiles"]),
        .testTarget(name: "EngineTests", dependencies: ["Basics", "Engine"]),
        .testTarget(name: "TeacherTests", dependencies: ["Basics", "Teacher", "Tasks", "Media"]),
        .testTarget(name: "ReasonerTests", dependencies: ["Basics", "Reasoner", "TestSupport", "Engine", "Tasks", "ModelFiles"]),
        .testTarget(name: "TrainingTests", dependencies: ["Basics", "Engine", "Media", "Reasoner", "Tasks", "TestSupport", "Training"]),
        .testTarget(name: "TaskFolderTests", dependencies: ["TaskFolder", "Media"]),
        .testTarget(name: "AdaptationTests", dependencies: ["Basics", "Adaptation", "TaskFolder", "Tasks", "Teacher", "Reasoner", "Engine", "Media"]),
        .testTarget(name: "SpoolTests", dependencies: ["Spool"]),
        .testTarget(name: "EndToEndTests", dependencies: ["tutor", "Reasoner", "Engine", "Media"]),
    ],
    swiftLanguageModes: [.v6]
)

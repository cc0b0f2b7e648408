// swift-tools-version:6.0
import PackageDescription

// Layers, one direction of dependencies:
// C shims -> VQEngine (tensors, autodiff, kernels) -> VQLayers (layers, optimisers) -> VQModels
// -> (checkpoints, tokenizer, codec, training, bench) -> the `vqcodec` command.
let package = Package(
    name: "vqcodec",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "vqcodec", targets: ["vqcodec"]),
        .library(name: "VQEngine", targets: ["VQEngine"]),
        .library(name: "VQLayers", targets: ["VQLayers"]),
        .library(name: "VQModels", targets: ["VQModels"]),
        .library(name: "VQCheckpoint", targets: ["VQCheckpoint"]),
        .library(name: "VQData", targets: ["VQData"]),
        .library(name: "VQImage", targets: ["VQImage"]),
        .library(name: "VQTokenizer", targets: ["VQTokenizer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries, found through pkg-config; SwiftPM prints the apt hint when one is missing.
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),

        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPlatform"),
        // Kernels Swift cannot compile to AVX2 without unsafe flags (function target attributes, run-time choice).
        .target(name: "CKernels"),

        .target(name: "VQEngine", dependencies: ["COpenBLAS", "CPlatform", "CKernels"]),
        .target(name: "VQLayers", dependencies: ["VQEngine"]),
        // Files and images: above the engine, beside the layers.
        .target(name: "VQData", dependencies: ["VQEngine", "CZlib"]),
        .target(name: "VQImage", dependencies: ["VQEngine", "CPNG"]),
        .target(name: "VQModels", dependencies: ["VQLayers"]),
        .target(name: "VQCheckpoint", dependencies: ["VQModels", "CHDF5", "CKernels"]),
        .target(name: "VQBench", dependencies: ["VQModels", "COpenBLAS"]),
        .target(name: "VQCodec", dependencies: ["VQTokenizer", "VQImage", "CZstd", "CZlib"], resources: [.copy("Statistics")]),
        .target(name: "VQTokenizer", dependencies: ["VQModels", "VQImage", "VQCheckpoint"], resources: [.copy("Models")]),
        .target(name: "VQTraining", dependencies: ["VQTokenizer", "VQData"]),
        // The VAE family: training, ELBO/IWAE/gradient-variance estimators and the course pictures.
        .target(name: "VQVAEFamily", dependencies: ["VQModels", "VQCheckpoint", "VQData", "VQImage"]),
        .executableTarget(
            name: "vqcodec",
            dependencies: [
                "VQBench",
                "VQEngine",
                "VQCheckpoint",
                "VQVAEFamily",
                "VQTokenizer",
                "VQTraining",
                "VQCodec",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "SystemLibraryTests", dependencies: ["CHDF5", "CZstd", "COpenBLAS", "CPNG"]),
        .testTarget(name: "VQEngineTests", dependencies: ["VQEngine", "VQCheckpoint"], resources: [.copy("Fixtures")]),
        .testTarget(name: "VQLayersTests", dependencies: ["VQLayers"]),
        .testTarget(name: "VQDataTests", dependencies: ["VQData"]),
        .testTarget(name: "VQImageTests", dependencies: ["VQImage"]),
        .testTarget(name: "VQCodecTests", dependencies: ["VQCodec", "VQTokenizer", "VQModels", "VQCheckpoint"]),
        .testTarget(name: "VQModelsTests", dependencies: ["VQModels", "VQCheckpoint"], resources: [.copy("Fixtures")]),
        .testTarget(name: "VQTokenizerTests", dependencies: ["VQTokenizer", "VQTraining"]),
        .testTarget(name: "VQTrainingTests", dependencies: ["VQTraining", "VQCheckpoint", "VQModels", "VQEngine"]),
        .testTarget(name: "VQVAEFamilyTests", dependencies: ["VQVAEFamily"]),
        .testTarget(name: "VQCheckpointTests", dependencies: ["VQCheckpoint", "VQData", "CHDF5", "CKernels"]),
    ],
    swiftLanguageModes: [.v6]
)

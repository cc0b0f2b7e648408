// swift-tools-version:6.0
import PackageDescription

// A separate package so the main build and its tests never compile it. Run from this folder:
//   swift run TokenizerExample [image.png] [out.png]
let package = Package(
    name: "TokenizerExample",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "vqcodec", path: "../..")],
    targets: [
        .executableTarget(
            name: "TokenizerExample",
            dependencies: [
                .product(name: "VQTokenizer", package: "vqcodec"),
                .product(name: "VQImage", package: "vqcodec"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

import Foundation
import VQData
import VQImage

/// Held-out images for evaluating a tokenizer: the MNIST test split (IDX files in `data`), or the PNG/PPM
/// photographs directly in `data` (Kodak) or in its `test/` folder (BSDS500). `limit` 0 takes all.
public func loadEvaluationImages(_ dataset: VQVAETrainingConfiguration.Dataset, data: URL, channels: Int, limit: Int = 0) throws -> [Image] {
    switch dataset {
    case .mnist:
        let test = try LabeledImages.mnist(directory: data, split: .test)
        let n = limit == 0 ? test.count : Swift.min(test.count, limit)
        let size = test.height * test.width * test.channels
        return (0..<n).map { i in
            // The IDX bytes were scaled by 1/255; scaling back is exact.
            let pixels = test.pixels[(i * size)..<((i + 1) * size)].map { UInt8(($0 * 255).rounded()) }
            return Image(width: test.width, height: test.height, channels: test.channels, pixels: pixels)
        }
    case .photo:
        let test = data.appendingPathComponent("test")
        var isDirectory: ObjCBool = false
        let folder = FileManager.default.fileExists(atPath: test.path, isDirectory: &isDirectory) && isDirectory.boolValue ? test : data
        let images = try loadPNGFolders([folder], channels: channels)
        return limit == 0 ? images : Array(images.prefix(limit))
    }
}

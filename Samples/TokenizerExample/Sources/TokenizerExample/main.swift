// Tokenize an image with a built-in model and turn the tokens back into an image.
//
//   swift run TokenizerExample                      # a generated gray square, MNIST model
//   swift run TokenizerExample photo.png out.png    # any PNG: gray uses `mnist`, colour uses `photo`
import Foundation
import VQImage
import VQTokenizer

let arguments = CommandLine.arguments.dropFirst()
do {
    var image: Image
    if let path = arguments.first {
        image = try Image(contentsOf: URL(fileURLWithPath: path)).removingAlpha()
    } else {
        // A 28x28 gray picture with a bright vertical bar, like a digit one.
        var pixels = [UInt8](repeating: 0, count: 28 * 28)
        for y in 4..<24 { for x in 12..<16 { pixels[y * 28 + x] = 255 } }
        image = Image(width: 28, height: 28, channels: 1, pixels: pixels)
    }
    let tokenizer = try Tokenizer.builtin(image.channels == 1 ? .mnist : .photo)
    let tokens = try tokenizer.encode(image)
    print("\(tokenizer.name!) tokenizer, fingerprint \(tokenizer.fingerprint.prefix(16))...")
    print("\(image.width)x\(image.height) image -> \(tokens.levels) level(s) of \(tokens.width)x\(tokens.height) tokens, "
          + "codebooks \(tokens.codebookSizes), \(tokens.rawBits) bits raw (\(String(format: "%.3f", tokens.rawBitsPerPixel)) bpp)")
    for row in 0..<tokens.height {
        print(tokens.indices(level: 0).dropFirst(row * tokens.width).prefix(tokens.width).map { String($0) }.joined(separator: " "))
    }
    let decoded = try tokenizer.decode(tokens)
    let out = URL(fileURLWithPath: arguments.dropFirst().first ?? "reconstruction.png")
    try decoded.write(to: out)
    print("decoded image written to \(out.path)")

    // Several threads may share one tokenizer.
    let again = try tokenizer.encode(decoded)
    print("re-encoding the decoded image keeps \(zip(again.indices, tokens.indices).filter { $0 == $1 }.count) of \(tokens.indices.count) tokens")
} catch {
    print("error: \(error)")
    exit(1)
}

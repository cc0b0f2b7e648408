import Foundation
import Testing
import VQEngine
import VQImage

@Suite struct ImageTests {
    @Test(arguments: [1, 2, 3, 4]) func pngRoundTripIsExact(channels: Int) throws {
        let pixels = (0..<(5 * 3 * channels)).map { UInt8(($0 * 37) % 256) }
        let image = Image(width: 5, height: 3, channels: channels, pixels: pixels)
        let decoded = try Image(pngData: try image.pngData())
        #expect(decoded == image)
    }

    @Test func tensorConversionRoundTrips() {
        let image = Image(width: 2, height: 1, channels: 3, pixels: [0, 128, 255, 10, 20, 30])
        let t = image.tensor()
        #expect(t.shape == [3, 1, 2])
        #expect(t.data[1] == Float(10) / 255)
        #expect(Image(tensor: t) == image)
    }

    @Test func badInputIsRejectedWithAMessage() {
        #expect(throws: ImageError.self) { try Image(pngData: Data("not a png".utf8)) }
        #expect(throws: ImageError.self) { try Image(pngData: Data()) }
        #expect(throws: ImageError.self) { try Image(contentsOf: URL(fileURLWithPath: "/nonexistent.png")) }
        let image = Image(width: 8, height: 8, channels: 1, pixels: [UInt8](repeating: 9, count: 64))
        let png = try! image.pngData()
        #expect(throws: ImageError.self) { try Image(pngData: png.prefix(png.count / 2)) }
    }

    @Test func gridPlacesTilesWithGaps() {
        let black = Image(width: 2, height: 2, channels: 1, pixels: [0, 0, 0, 0])
        let grid = Image.grid([black, black, black], columns: 2, gap: 1)
        #expect(grid.width == 7 && grid.height == 7)
        #expect(grid.pixels[1 * 7 + 1] == 0 && grid.pixels[0] == 255)
    }
}

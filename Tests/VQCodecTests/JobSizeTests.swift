import Foundation
import Testing
@testable import VQCodec

@Suite struct JobSizeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("pixel counts come from PNG and .vqc headers; other files give nil")
    func pixelsFromHeaders() throws {
        let digit = JobSizeTests.root.appendingPathComponent("Samples/digit-00000-7.png").path
        let kodak = JobSizeTests.root.appendingPathComponent("Samples/kodim23.png").path
        let vqc = JobSizeTests.root.appendingPathComponent("Formats/testvectors/container-zstd.vqc").path
        #expect(JobSize.pixels(ofFileAt: digit) == 784)
        #expect(JobSize.pixels(ofFileAt: kodak) == 768 * 512)
        #expect(JobSize.pixels(ofFileAt: vqc) == 784)
        #expect(JobSize.pixels(ofFileAt: JobSizeTests.root.appendingPathComponent("Package.swift").path) == nil)
        #expect(JobSize.pixels(ofFileAt: "/no/such/file") == nil)
    }

    @Test("a job is small only for a few existing small files and no folder or standard input")
    func smallJobs() {
        let digit = JobSizeTests.root.appendingPathComponent("Samples/digit-00000-7.png").path
        let kodak = JobSizeTests.root.appendingPathComponent("Samples/kodim23.png").path
        let options: Set<String> = ["-o", "--model"]
        #expect(JobSize.isSmall(arguments: [digit, "-o", "/tmp/out.vqc", "--model", "mnist", "-q"], valueOptions: options))
        #expect(!JobSize.isSmall(arguments: [kodak], valueOptions: options))
        #expect(!JobSize.isSmall(arguments: [digit, "-"], valueOptions: options))
        #expect(!JobSize.isSmall(arguments: [JobSizeTests.root.appendingPathComponent("Samples").path], valueOptions: options))
        #expect(!JobSize.isSmall(arguments: Array(repeating: digit, count: 5), valueOptions: options))
        #expect(!JobSize.isSmall(arguments: ["-o", "x"], valueOptions: options))
    }
}

import ArgumentParser
import Foundation
import VQCodec

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show every header field of a .vqc file, its sizes and bits per pixel.",
        discussion: """
        The whole file is checked (length, checksum, token data) as decoding would. \
        Exit codes: 0 success; 2 unreadable, truncated or corrupt file.
        """
    )

    @Argument(help: "A .vqc file ('-' reads standard input).")
    var file: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let info: ContainerInfo
        do { info = try ContainerInfo(bytes: try readInput(file)) } catch { throw fail(error) }
        print(json ? info.json : info.text)
    }
}

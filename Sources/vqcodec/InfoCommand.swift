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

    @Option(help: "The prior of a prior-coded (method 4 or 5) file that is not a built-in, to check its token data too.")
    var prior: String?

    func run() throws {
        let info: ContainerInfo
        do {
            info = try ContainerInfo(bytes: try readInput(file), prior: try prior.map { try ModelCatalog.prior(named: $0) })
        } catch { throw fail(error) }
        print(json ? info.json : info.text)
    }
}

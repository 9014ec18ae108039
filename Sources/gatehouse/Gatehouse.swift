import ArgumentParser
@main struct Gatehouse: AsyncParsableCommand { func run() async throws {} }

import ServiceLifecycle
import UnixSignals

/// Reloads the listeners' TLS certificate and key on every SIGHUP, as nginx and HAProxy
/// do: new connections get the new certificate, open ones keep theirs, and files that do
/// not load leave the old certificate in place (see `TLSContextProvider.reload()`).
///
/// The signal sequence is made before the node starts listening (`GatehouseServer.run`), so
/// a SIGHUP sent once the node reports ready never meets the default action (exit).
struct TLSReloadService: Service {
    let provider: TLSContextProvider
    let signals: UnixSignalsSequence

    func run() async {
        for await _ in signals.cancelOnGracefulShutdown() {
            provider.reload()
        }
    }
}

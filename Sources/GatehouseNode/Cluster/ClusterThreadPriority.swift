import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The cluster's own threads (failure detection, the data plane) run at a higher scheduling
/// priority than the RESP and HTTP loops: when a saturating load keeps every core busy, a
/// probe's ack or a replicated write still gets the CPU within a scheduler slice instead of
/// waiting behind request handling. Raising priority needs root or CAP_SYS_NICE; without it
/// the threads keep the default priority and a notice says so.
enum ClusterThreadPriority {
    /// Nice value asked for: above the default (0), below what the kernel's own threads use.
    static let nice: Int32 = -10

    static func raise(_ loop: any EventLoop, logger: Logger) {
        loop.execute {
            #if os(Linux)
            // On Linux each thread has its own nice value, and `who = 0` names the caller.
            if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice) != 0 {
                logger.notice("cluster thread keeps the default priority (raising it needs CAP_SYS_NICE)")
            }
            #endif
        }
    }
}

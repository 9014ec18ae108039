import Foundation
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The failure detector's thread runs at a higher scheduling priority than everything else:
/// when a saturating load keeps every core busy, a probe's ack still gets the CPU within a
/// scheduler slice instead of waiting behind request handling, so load never looks like death.
/// Its work is tiny (a few small datagrams per second), so the priority costs the request
/// loops nothing. The data plane is different: it merges counter state for every hot key on
/// every tick, and at a raised priority those bursts preempt the RESP loops and show up in
/// their tail latency; it runs at the default priority unless `GATEHOUSE_DATA_PLANE_NICE`
/// asks otherwise. Raising priority needs root or CAP_SYS_NICE; without it the thread keeps
/// the default priority and a notice says so.
enum ClusterThreadPriority {
    /// Nice value of the failure detector's thread: above the default (0), below what the
    /// kernel's own threads use.
    static let failureDetection: Int32 = -10

    /// Nice value of the data plane's thread: `GATEHOUSE_DATA_PLANE_NICE` (-20…19) when set
    /// and valid, otherwise the default, 0.
    static func dataPlane(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int32 {
        guard let text = environment[ConfigLoader.Environment.dataPlaneNice], let value = Int32(text), (-20...19).contains(value) else {
            return 0
        }
        return value
    }

    static func set(_ loop: any EventLoop, nice: Int32, logger: Logger) {
        guard nice != 0 else { return }
        loop.execute {
            #if os(Linux)
            // On Linux each thread has its own nice value, and `who = 0` names the caller.
            if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice) != 0 {
                logger.notice("cluster thread keeps the default priority (changing it needs CAP_SYS_NICE)", metadata: ["nice": "\(nice)"])
            }
            #endif
        }
    }
}

import Foundation
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The cluster's own threads run at a higher scheduling priority than the request loops:
/// when a saturating load keeps every core busy, a probe's ack (the failure detector's
/// thread) and a replicated write (the data plane's) still get the CPU within a scheduler
/// slice instead of waiting behind request handling, so load never looks like death and a
/// write reaches every node in milliseconds. Their work is small — the data plane's bulk,
/// merging peers' counter slots, runs on a thread of its own at the default priority
/// (`ClusterReplication`) — so the priority costs the request loops little.
/// `GATEHOUSE_DATA_PLANE_NICE` sets the data plane's (the bench compares). Raising priority
/// needs root or CAP_SYS_NICE; without it the thread keeps the default priority and a notice
/// says so.
enum ClusterThreadPriority {
    /// Nice value of the failure detector's thread: above the default (0), below what the
    /// kernel's own threads use.
    static let failureDetection: Int32 = -10

    /// Nice value of the data plane's thread: `GATEHOUSE_DATA_PLANE_NICE` (-20…19) when set
    /// and valid, otherwise the failure detector's.
    static func dataPlane(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int32 {
        guard let text = environment[ConfigLoader.Environment.dataPlaneNice], let value = Int32(text), (-20...19).contains(value) else {
            return failureDetection
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

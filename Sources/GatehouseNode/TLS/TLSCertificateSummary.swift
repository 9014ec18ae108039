import Foundation
import NIOSSL

/// What may be said in logs about the certificate a listener serves: its serial, names and
/// validity. Nothing of the private key.
public struct TLSCertificateSummary: Sendable, Hashable, CustomStringConvertible {
    /// Upper-case hex, as `openssl x509 -noout -serial` prints it.
    public var serial: String
    /// The subject's common name(s), `CN=…`.
    public var subject: String
    /// Seconds since 1970.
    public var notValidAfter: Int64

    init(_ certificate: NIOSSLCertificate) {
        serial = certificate.serialNumber.map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
        subject = certificate.subjectName.filter { $0.type == .commonName }.map { "CN=" + $0.value }.joined(separator: ", ")
        notValidAfter = Int64(certificate.notValidAfter)
    }

    /// `notValidAfter` in ISO 8601, UTC.
    public var notValidAfterText: String {
        Date(timeIntervalSince1970: TimeInterval(notValidAfter)).formatted(.iso8601)
    }

    public var description: String { "serial \(serial), \(subject), valid until \(notValidAfterText)" }
}

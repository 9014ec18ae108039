/// The version of Gatehouse's own command set over RESP (`VERIFY`, `THROTTLE` and their
/// replies), which `HELLO` answers as `gatehouse_protocol` and `INFO` as
/// `gatehouse_protocol:`. It is not the RESP dialect (`proto`: 2 or 3): it changes only when
/// a command or reply changes in a way existing clients would misread; new optional
/// arguments and new reply fields (clients read fields by name) leave it as it is.
public enum GatehouseProtocolVersion {
    public static let current = 1
    /// The field name in `HELLO` and `INFO`.
    public static let fieldName = "gatehouse_protocol"
}

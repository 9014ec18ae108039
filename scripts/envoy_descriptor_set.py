"""Writes a FileDescriptorSet with just the parts of Envoy's API that Gatehouse serves.

Envoy's .proto files are not needed: PyPI's xds-protos carries their compiled descriptors.
Starting from the two services (ratelimit v3 RateLimitService, auth v3 Authorization), this
keeps only the fields listed in KEEP (by their Envoy names and numbers, so the wire format is
Envoy's: what is left out is carried as unknown fields and never read), the types those
fields need, and drops every option (validation and annotation options need files of their
own and change nothing on the wire). protoc then generates a few small Swift files instead of
the hundreds the full closure would take. Used by scripts/generate-envoy-protos.
"""

import sys

from google.protobuf import descriptor_pb2

SERVICES = {
    "envoy/service/ratelimit/v3/rls.proto": "envoy.service.ratelimit.v3.RateLimitService",
    "envoy/service/auth/v3/external_auth.proto": "envoy.service.auth.v3.Authorization",
}

# Message -> the fields Gatehouse reads or writes. Enums are always kept whole.
KEEP = {
    "envoy.service.ratelimit.v3.RateLimitRequest": ["domain", "descriptors", "hits_addend"],
    "envoy.extensions.common.ratelimit.v3.RateLimitDescriptor": ["entries", "hits_addend"],
    "envoy.extensions.common.ratelimit.v3.RateLimitDescriptor.Entry": ["key", "value"],
    "envoy.service.ratelimit.v3.RateLimitResponse": ["overall_code", "statuses", "response_headers_to_add"],
    "envoy.service.ratelimit.v3.RateLimitResponse.DescriptorStatus": [
        "code", "current_limit", "limit_remaining", "duration_until_reset"],
    "envoy.service.ratelimit.v3.RateLimitResponse.RateLimit": ["name", "requests_per_unit", "unit"],
    "envoy.config.core.v3.HeaderValue": ["key", "value"],
    "envoy.config.core.v3.HeaderValueOption": ["header", "append_action"],
    "envoy.service.auth.v3.CheckRequest": ["attributes"],
    "envoy.service.auth.v3.AttributeContext": ["source", "request", "context_extensions"],
    "envoy.service.auth.v3.AttributeContext.ContextExtensionsEntry": ["key", "value"],
    "envoy.service.auth.v3.AttributeContext.Peer": ["address"],
    "envoy.service.auth.v3.AttributeContext.Request": ["http"],
    "envoy.service.auth.v3.AttributeContext.HttpRequest": ["method", "headers", "path", "host"],
    "envoy.service.auth.v3.AttributeContext.HttpRequest.HeadersEntry": ["key", "value"],
    "envoy.config.core.v3.Address": ["socket_address"],
    "envoy.config.core.v3.SocketAddress": ["address", "port_value"],
    "envoy.service.auth.v3.CheckResponse": ["status", "denied_response", "ok_response"],
    "envoy.service.auth.v3.DeniedHttpResponse": ["status", "headers", "body"],
    "envoy.service.auth.v3.OkHttpResponse": ["headers", "headers_to_remove", "response_headers_to_add"],
    "envoy.type.v3.HttpStatus": ["code"],
    "google.rpc.Status": ["code", "message"],
}

# Types protoc-gen-swift takes from the SwiftProtobuf library instead of generating them.
WELL_KNOWN_PREFIX = "google/protobuf/"


def load_files():
    """Every file descriptor reachable from the two services, by file name."""
    import envoy.service.auth.v3.external_auth_pb2  # noqa: F401  (registers the descriptors)
    import envoy.service.ratelimit.v3.rls_pb2  # noqa: F401
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.Default()
    files = {}

    def visit(name):
        if name in files:
            return
        proto = descriptor_pb2.FileDescriptorProto()
        pool.FindFileByName(name).CopyToProto(proto)
        files[name] = proto
        for dependency in proto.dependency:
            visit(dependency)

    for name in SERVICES:
        visit(name)
    return files


def index_types(files):
    """Full type name -> (file name, DescriptorProto or EnumDescriptorProto, is_enum)."""
    types = {}

    def walk(file_name, prefix, messages, enums):
        for enum in enums:
            types[f"{prefix}.{enum.name}"] = (file_name, enum, True)
        for message in messages:
            full = f"{prefix}.{message.name}"
            types[full] = (file_name, message, False)
            walk(file_name, full, message.nested_type, message.enum_type)

    for name, proto in files.items():
        walk(name, proto.package, proto.message_type, proto.enum_type)
    return types


def prune(files):
    types = index_types(files)
    used = set()

    def use(full):
        if full in used:
            return
        used.add(full)
        file_name, proto, is_enum = types[full]
        if is_enum or file_name.startswith(WELL_KNOWN_PREFIX):
            return
        if full not in KEEP:
            sys.exit(f"envoy_descriptor_set.py: {full} is needed but not in KEEP; list the fields Gatehouse uses")
        known = {field.name for field in proto.field}
        missing = set(KEEP[full]) - known
        if missing:
            sys.exit(f"envoy_descriptor_set.py: {full} has no field {sorted(missing)}; did Envoy's API change?")
        for field in proto.field:
            if field.name in KEEP[full] and field.type_name:
                use(field.type_name.lstrip("."))
        # Every outer message of a nested one stays, so the nesting (and the names) stay Envoy's.
        parent = full.rsplit(".", 1)[0]
        if parent in types and not types[parent][2]:
            use(parent)

    for file_name, service_name in SERVICES.items():
        service = next(s for s in files[file_name].service if f"{files[file_name].package}.{s.name}" == service_name)
        for method in service.method:
            use(method.input_type.lstrip("."))
            use(method.output_type.lstrip("."))

    def prune_message(full, message):
        keep = KEEP.get(full, [])
        fields = [field for field in message.field if field.name in keep]
        oneofs_used = sorted({field.oneof_index for field in fields if field.HasField("oneof_index")})
        renumber = {old: new for new, old in enumerate(oneofs_used)}
        oneof_decls = [message.oneof_decl[old] for old in oneofs_used]
        nested = [n for n in message.nested_type if f"{full}.{n.name}" in used]
        enums = [e for e in message.enum_type if f"{full}.{e.name}" in used]
        del message.field[:]
        for field in fields:
            field.ClearField("options")
            if field.HasField("oneof_index"):
                field.oneof_index = renumber[field.oneof_index]
            message.field.append(field)
        del message.oneof_decl[:]
        for decl in oneof_decls:
            decl.ClearField("options")
            message.oneof_decl.append(decl)
        del message.nested_type[:]
        for child in nested:
            prune_message(f"{full}.{child.name}", child)
            message.nested_type.append(child)
        del message.enum_type[:]
        for enum in enums:
            clear_enum_options(enum)
            message.enum_type.append(enum)
        del message.reserved_range[:]
        del message.reserved_name[:]
        del message.extension_range[:]
        del message.extension[:]
        if not message.options.map_entry:
            message.ClearField("options")

    def clear_enum_options(enum):
        enum.ClearField("options")
        for value in enum.value:
            value.ClearField("options")

    result = descriptor_pb2.FileDescriptorSet()
    generated = []
    for name, proto in files.items():
        prefix = proto.package
        messages = [m for m in proto.message_type if f"{prefix}.{m.name}" in used]
        enums = [e for e in proto.enum_type if f"{prefix}.{e.name}" in used]
        services = list(proto.service) if name in SERVICES else []
        if not messages and not enums and not services:
            continue
        if name.startswith(WELL_KNOWN_PREFIX):
            result.file.append(proto)
            continue
        del proto.message_type[:]
        for message in messages:
            prune_message(f"{prefix}.{message.name}", message)
            proto.message_type.append(message)
        del proto.enum_type[:]
        for enum in enums:
            clear_enum_options(enum)
            proto.enum_type.append(enum)
        del proto.service[:]
        for service in services:
            service.ClearField("options")
            for method in service.method:
                method.ClearField("options")
            proto.service.append(service)
        del proto.extension[:]
        proto.ClearField("options")
        proto.ClearField("source_code_info")
        generated.append(name)
        result.file.append(proto)

    # Each file now imports only the files defining the types it still names.
    defined_in = {full: file_name for full, (file_name, _, _) in types.items()}
    kept_names = {proto.name for proto in result.file}
    for proto in result.file:
        if proto.name.startswith(WELL_KNOWN_PREFIX):
            continue
        needed = set()

        def collect(messages):
            for message in messages:
                for field in message.field:
                    if field.type_name:
                        needed.add(defined_in[field.type_name.lstrip(".")])
                collect(message.nested_type)

        collect(proto.message_type)
        for service in proto.service:
            for method in service.method:
                needed.add(defined_in[method.input_type.lstrip(".")])
                needed.add(defined_in[method.output_type.lstrip(".")])
        needed.discard(proto.name)
        del proto.dependency[:]
        del proto.public_dependency[:]
        del proto.weak_dependency[:]
        for dependency in sorted(needed):
            assert dependency in kept_names, dependency
            proto.dependency.append(dependency)

    # Dependencies before dependants, as protoc expects.
    ordered, placed = [], set()
    by_name = {proto.name: proto for proto in result.file}

    def place(name):
        if name in placed:
            return
        placed.add(name)
        for dependency in by_name[name].dependency:
            place(dependency)
        ordered.append(by_name[name])

    for proto in list(result.file):
        place(proto.name)
    del result.file[:]
    result.file.extend(ordered)
    return result, generated


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: envoy_descriptor_set.py OUT.pb OUT-FILES.txt")
    result, generated = prune(load_files())
    with open(sys.argv[1], "wb") as out:
        out.write(result.SerializeToString())
    with open(sys.argv[2], "w") as out:
        out.write("\n".join(generated) + "\n")


if __name__ == "__main__":
    main()

# Gatehouse node image. Build: docker build -t gatehouse .
# The same three-node cluster as cluster.yaml runs with docker-compose.yml.
FROM swift:6.3-noble AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-dev libssl-dev && rm -rf /var/lib/apt/lists/*
COPY Package.swift ./
COPY Sources ./Sources
COPY bench/sim ./bench/sim
COPY Tests ./Tests
RUN swift build -c release --product gatehouse --static-swift-stdlib \
    && cp "$(swift build -c release --show-bin-path)/gatehouse" /usr/local/bin/gatehouse

FROM ubuntu:noble
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-0 libssl3t64 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/gatehouse --create-home gatehouse
COPY --from=build /usr/local/bin/gatehouse /usr/local/bin/gatehouse
USER gatehouse
WORKDIR /var/lib/gatehouse
# RESP, HTTP, gossip (UDP and TCP)
EXPOSE 7379 7380 7381 7946/udp 7946/tcp
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve", "--config", "/etc/gatehouse/cluster.yaml"]

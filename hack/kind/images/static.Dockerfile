# A distroless-like root for static binaries: CA certificates, passwd/group
# with root, nonroot (65532) and nobody, and /tmp. Nothing else: no shell.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE} AS debian
RUN apt-get update -qq \
    && apt-get install -y -qq ca-certificates >/dev/null \
    && mkdir -p /out/etc/ssl/certs /out/tmp /out/usr/local/bin \
    && chmod 1777 /out/tmp \
    && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
    && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > /out/etc/passwd \
    && printf 'root:x:0:\nnonroot:x:65532:\nnobody:x:65534:\n' > /out/etc/group \
    && printf 'hosts: files dns\n' > /out/etc/nsswitch.conf

FROM scratch
COPY --from=debian /out/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin

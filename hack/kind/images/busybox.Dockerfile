# A shell-less root with Debian's busybox-static: /bin/busybox and its applets.
# With BINARY set, one more static binary at /usr/local/bin (kindnet-lite uses
# busybox's `ip`). Without it, this is the tiny agent image of the e2e tests.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE} AS debian
RUN apt-get update -qq \
    && apt-get install -y -qq busybox-static >/dev/null \
    && mkdir -p /out/bin /out/tmp /out/etc /out/usr/local/bin \
    && chmod 1777 /out/tmp \
    && cp /bin/busybox /out/bin/busybox \
    && for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox /out/bin/$a; done \
    && printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > /out/etc/passwd \
    && printf 'root:x:0:\nnobody:x:65534:\n' > /out/etc/group

FROM scratch
COPY --from=debian /out/ /
COPY bin/ /usr/local/bin/
ENV PATH=/usr/local/bin:/bin
CMD ["sh"]

# The pod sandbox: kubernetes' build/pause/linux/pause.c, compiled static.
FROM scratch
COPY bin/pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]

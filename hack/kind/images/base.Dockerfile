# The kind base image, made from Debian packages instead of kind's release
# tarballs: systemd, containerd, runc and the CNI plugins come from Debian; the
# node files (entrypoint, containerd config, kubelet units) are kind's own, taken
# from the kind Go module at the version hack/tools pins (images/base/files) and
# staged into this build context by hack/kind/images.sh. It mirrors kind's
# images/base/Dockerfile step by step; the differences are marked "paddock:".
# Built with the classic builder (no BuildKit: it would pull a frontend image),
# so COPY --chmod is spelled as a RUN chmod.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}

COPY files/usr/local/bin/ /usr/local/bin/
COPY files/kind/ /kind/
COPY files/LICENSES/ /LICENSES/
COPY files/etc/ /etc/
# paddock: the runc wrapper that drops capabilities missing from the bounding set.
COPY runc-wrapper /usr/local/sbin/paddock-runc

# paddock: kind's files are in place before the packages (kind installs containerd
# from a tarball); Debian's containerd ships its own /etc/containerd/config.toml,
# and dpkg must keep kind's rather than stop at the conffile prompt.
RUN chmod 0755 /kind /kind/bin /kind/bin/* /usr/local/bin/* /usr/local/sbin/paddock-runc \
    && printf 'Dpkg::Options { "--force-confdef"; "--force-confold"; };\n' > /etc/apt/apt.conf.d/90paddock-confold \
    && echo "Installing Packages ..." \
    && DEBIAN_FRONTEND=noninteractive clean-install \
      systemd \
      conntrack iptables nftables iproute2 ethtool util-linux mount kmod \
      libseccomp2 pigz \
      e2fsprogs \
      bash ca-certificates curl jq procps \
      containerd runc containernetworking-plugins \
    && find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \
    && rm -f /lib/systemd/system/multi-user.target.wants/* \
    && rm -f /etc/systemd/system/*.wants/* \
    && rm -f /lib/systemd/system/local-fs.target.wants/* \
    && rm -f /lib/systemd/system/sockets.target.wants/*udev* \
    && rm -f /lib/systemd/system/sockets.target.wants/*initctl* \
    && rm -f /lib/systemd/system/basic.target.wants/* \
    && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \
    && ln -sf /usr/lib/systemd/systemd /sbin/init

RUN echo "Enabling / Disabling services ... " \
    && systemctl enable kubelet.service \
    && systemctl enable containerd.service \
    && systemctl enable undo-mount-hacks.service \
    && systemctl mask systemd-binfmt.service

RUN echo "Ensuring /etc/kubernetes/manifests" \
    && mkdir -p /etc/kubernetes/manifests

# paddock: Debian puts containerd in /usr/bin and the CNI plugins in /usr/lib/cni;
# kind's containerd.service and containerd config expect /usr/local/bin and
# /opt/cni/bin. The CRI's runc is the wrapper (privileged pods, e.g. kube-proxy,
# ask for every capability).
RUN ln -s /usr/bin/containerd /usr/local/bin/containerd \
    && mkdir -p /opt/cni/bin \
    && for p in host-local loopback ptp portmap bridge; do ln -s /usr/lib/cni/$p /opt/cni/bin/$p; done \
    && sed -i -E '/^\s*\[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.(runc|test-handler).options\]/a\    BinaryName = "/usr/local/sbin/paddock-runc"' /etc/containerd/config.toml \
    && test "$(containerd config dump | grep -c 'BinaryName = "/usr/local/sbin/paddock-runc"')" = 2 \
    && ctr oci spec \
        | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
        | jq 'del(.process.rlimits)' \
        > /etc/containerd/cri-base.json \
    && containerd --version && runc --version

# first tell systemd that it is in docker (it will check for the container env)
# https://systemd.io/CONTAINER_INTERFACE/
ENV container=docker
# systemd exits on SIGRTMIN+3, not SIGTERM (which re-executes it)
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]
# paddock: kind's image is squashed FROM scratch, so it has no CMD; this one
# inherits the Debian image's, which systemd would take as an argument.
CMD []

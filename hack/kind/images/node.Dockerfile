# The kind node image: the base image plus the Go-built kubelet, kubeadm,
# kubectl and crictl, kind's /kind/version and the default CNI manifest.
# hack/kind/images.sh then loads the control-plane images into the node's
# containerd (as kind's `build node-image` does) and commits the result.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# kind's units expect the Kubernetes binaries in /usr/bin.
COPY kubelet kubeadm kubectl /usr/bin/
COPY crictl /usr/local/bin/crictl
COPY version /kind/version
COPY manifests/ /kind/manifests/
# Modes come from the build context: a RUN chmod would copy ~230 MB of binaries
# into a second layer.
RUN kubelet --version && kubeadm version -o short

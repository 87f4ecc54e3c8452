module paddock.dev/hack/kind/kindnet

go 1.26.0

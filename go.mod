module github.com/opsmop/opsmop

go 1.26.8

require (
	github.com/hashicorp/yamux v0.1.2
	github.com/vmihailenco/msgpack/v5 v5.4.1
)

require github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect

module engine

go 1.26.8

require (
	github.com/google/uuid v1.6.0
	github.com/kr/pty v1.1.8
	golang.org/x/sys v0.49.0
)

require github.com/creack/pty v1.1.7 // indirect

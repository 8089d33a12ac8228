module github.com/zkutil/zkutil/bindings/go

go 1.19

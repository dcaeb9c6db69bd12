module amadegi.local/build/actionlint

go 1.26

require github.com/rhysd/actionlint v1.7.12

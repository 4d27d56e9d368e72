// SPDX-License-Identifier: MIT
module lfqbench/goPool

go 1.19

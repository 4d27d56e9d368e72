// SPDX-License-Identifier: MIT
module lfqbench/chanbench

go 1.19

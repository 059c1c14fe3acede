// GoogLeNet (the reference model, 1000 classes, no aux heads) forward throughput on the CPU; see
// forward_benchmark.hpp for the options and the output line.

#include <ctnn/layers/googlenet.hpp>   // ctnn::GoogLeNet

#include "forward_benchmark.hpp"   // benchmark::forward_throughput

int main(int argc, char** argv) { return benchmark::forward_throughput<ctnn::GoogLeNet<1000, false>>(argc, argv); }

// ResNet18 (torchvision's resnet18, 1000 classes) forward throughput on the CPU; see
// forward_benchmark.hpp for the options and the output line.

#include <ctnn/models/resnet18.hpp>   // ctnn::ResNet18

#include "forward_benchmark.hpp"   // benchmark::forward_throughput

int main(int argc, char** argv) { return benchmark::forward_throughput<ctnn::ResNet18<1000>>(argc, argv); }

// ResNet50 (torchvision's resnet50, 1000 classes) forward throughput on the CPU; see
// forward_benchmark.hpp for the options and the output line.

#include <ctnn/models/resnet50.hpp>   // ctnn::ResNet50

#include "forward_benchmark.hpp"   // benchmark::forward_throughput

int main(int argc, char** argv) { return benchmark::forward_throughput<ctnn::ResNet50<1000>>(argc, argv); }

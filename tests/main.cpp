// Catch2 entry point for galen_tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

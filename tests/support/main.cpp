#define BOOST_TEST_MODULE keyless
#include <boost/test/unit_test.hpp>

//  Kernel scenario tests (tests/shic_kernel_test.c)
#ifndef SHIC_KERNEL_TEST_H_INCLUDED
#define SHIC_KERNEL_TEST_H_INCLUDED
#include <stdbool.h>
void shic_kernel_test_compatibility (bool verbose);
void shic_kernel_test_truthfulness (bool verbose);
void shic_kernel_test_errors (bool verbose);
void shic_kernel_test_herd (bool verbose);
void shic_kernel_test_leases (bool verbose);
void shic_kernel_test_idle (bool verbose);
void shic_kernel_test_await (bool verbose);
void shic_kernel_test_readiness (bool verbose);
void shic_kernel_test_start_failure (bool verbose);
void shic_kernel_test_health (bool verbose);
void shic_kernel_test_attached (bool verbose);
void shic_kernel_test_crash_loop (bool verbose);
void shic_kernel_test_shutdown (bool verbose);
void shic_kernel_test_liveness (bool verbose);
void shic_kernel_test_curve (bool verbose);
void shic_kernel_test_gateway_limits (bool verbose);
void shic_kernel_test_ownership (bool verbose);
void shic_kernel_test_descriptors (bool verbose);
void shic_kernel_test_peer_memory (bool verbose);
void shic_kernel_test_pool_shrink (bool verbose);
void shic_kernel_test_fair_share (bool verbose);
void shic_kernel_test_stop_truth (bool verbose);
void shic_kernel_test_host_calls (bool verbose);
void shic_kernel_test_backend_held (bool verbose);
void shic_containment_test (bool verbose);
int shic_containment_victim (void);
#endif

/*  =========================================================================
    shic_selftest - runs the self tests, one per ctest entry

    Usage: shic_selftest [--list] [--test NAME] [-v] | --bus-table
    With no --test it runs them all. Prints a closing line
    "N passed, 0 failed" (a failing test aborts). --bus-table prints the
    bus table for guides/architecture.md.
    =========================================================================
*/

#include "shic.h"
#include "shic_actors.h"
#include "shic_selftest.h"
#include "shic_sha256.h"
#include "shic_http.h"
#include "shic_schema.h"
#include "shic_kernel_test.h"
#include "shic_test_util.h"
#include "shic_args.h"
#include "shic_events.h"
#include "shic_registry.h"
#include "shic_lease_book.h"
#include "shic_stats.h"
#include "shic_conns.h"
#include "shic_waiter.h"
#include "shic_placement.h"
#include "shic_admission.h"
#include "shic_pools.h"
#include "shic_cluster_view.h"

void shic_generic_test (bool verbose);
void shic_bus_guide_test (bool verbose);
void shic_contract_test (bool verbose);
void shic_msgpack_test (bool verbose);

void shic_ollama_test (bool verbose);
void shic_ollama_health_test (bool verbose);
void shic_ollama_live_test (bool verbose);

void shic_llama_cpp_test (bool); void shic_llama_cpp_live_test (bool);

void shic_gguf_test (bool verbose);
void shic_footprint_test (bool verbose);
void shic_placement_kernel_test (bool verbose);
void shic_etcd_test (bool verbose);

typedef struct {
    const char *name;               //  ctest name
    void (*test) (bool verbose);    //  the test
} s_test_t;

static s_test_t s_tests [] = {
    { "val", shic_val_test },
    { "msgpack", shic_msgpack_test },
    { "error", shic_error_test },
    { "json", shic_json_test },
    { "wire", shic_wire_test },
    { "sha256", shic_sha256_test },
    { "schema", shic_schema_test },
    { "contract", shic_contract_test },
    { "args", shic_args_test },
    { "events", shic_events_test },
    { "registry", shic_registry_test },
    { "lease_book", shic_lease_book_test },
    { "stats", shic_stats_test },
    { "conns", shic_conns_test },
    { "waiter", shic_waiter_test },
    { "placement", shic_placement_test },
    { "admission", shic_admission_test },
    { "pools", shic_pools_test },
    { "cluster_view", shic_cluster_view_test },
    { "bus", shic_bus_test },
    { "bus_guide", shic_bus_guide_test },
    { "proc", shic_proc_test },
    { "http", shic_http_test },
    { "restart_policy", shic_restart_policy_test },
    { "client", shic_client_test },
    { "runtime", shic_runtime_test },
    { "http_face", shic_http_face_test },
    { "compatibility", shic_kernel_test_compatibility },
    { "truthfulness", shic_kernel_test_truthfulness },
    { "errors", shic_kernel_test_errors },
    { "herd", shic_kernel_test_herd },
    { "leases", shic_kernel_test_leases },
    { "idle", shic_kernel_test_idle },
    { "await", shic_kernel_test_await },
    { "readiness", shic_kernel_test_readiness },
    { "start_failure", shic_kernel_test_start_failure },
    { "health", shic_kernel_test_health },
    { "attached", shic_kernel_test_attached },
    { "crash_loop", shic_kernel_test_crash_loop },
    { "shutdown", shic_kernel_test_shutdown },
    { "liveness", shic_kernel_test_liveness },
    { "curve", shic_kernel_test_curve },
    { "gateway_limits", shic_kernel_test_gateway_limits },
    { "ownership", shic_kernel_test_ownership },
    { "descriptors", shic_kernel_test_descriptors },
    { "peer_memory", shic_kernel_test_peer_memory },
    { "pool_shrink", shic_kernel_test_pool_shrink },
    { "fair_share", shic_kernel_test_fair_share },
    { "stop_truth", shic_kernel_test_stop_truth },
    { "host_calls", shic_kernel_test_host_calls },
    { "backend_held", shic_kernel_test_backend_held },
    { "containment", shic_containment_test },
    { "generic", shic_generic_test },
    { "llama_cpp", shic_llama_cpp_test },
    { "llama_cpp_live", shic_llama_cpp_live_test },
    { "ollama", shic_ollama_test },
    { "ollama_health", shic_ollama_health_test },
    { "ollama_live", shic_ollama_live_test },
    { "gguf", shic_gguf_test },
    { "footprint", shic_footprint_test },
    { "placement_kernel", shic_placement_kernel_test },
    { "etcd", shic_etcd_test },
    { NULL, NULL }
};

int
main (int argc, char *argv [])
{
    //  The containment test's victim: a process that embeds a runtime
    if (argc == 2 && streq (argv [1], "--victim"))
        return shic_containment_victim ();
    bool verbose = false;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "-v") || streq (argv [i], "--verbose"))
            verbose = true;
        else
        if (streq (argv [i], "--test") && i + 1 < argc)
            only = argv [++i];
        else
        if (streq (argv [i], "--bus-table")) {
            char *table = shic_bus_table ();
            fputs (table, stdout);
            free (table);
            return 0;
        }
        else
        if (streq (argv [i], "--list")) {
            for (s_test_t *test = s_tests; test->name; test++)
                puts (test->name);
            return 0;
        }
        else {
            printf ("usage: %s [--list] [--test NAME] [-v] | --bus-table\n", argv [0]);
            return 1;
        }
    }
    //  Before any socket exists
    shic_init (4096);
    setvbuf (stdout, NULL, _IONBF, 0);
    int passed = 0;
    for (s_test_t *test = s_tests; test->name; test++)
        if (!only || streq (only, test->name)) {
            test->test (verbose);
            passed++;
        }
    if (only && passed == 0) {
        printf ("no test named '%s'\n", only);
        return 1;
    }
    shic_http_thread_cleanup ();
    if (only && shic_test_skipped ()) {
        printf ("0 passed, 0 failed, 1 skipped\n");
        return SHIC_TEST_SKIPPED;
    }
    printf ("%d passed, 0 failed\n", passed);
    return 0;
}

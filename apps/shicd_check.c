/*  =========================================================================
    shicd_check - shicd --check

    The keys are the backends' to check (shicd has configured them before
    it gets here); this adds what a start would find out late: that the
    binary is not there or does not run, that a model is not a GGUF file.
    Attached backends (ollama, openai_compat, plugins) are not contacted:
    their servers may rightly be down while the configuration is checked.
    =========================================================================
*/

#include "shicd_check.h"
#include <sys/wait.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <signal.h>

#define VERSION_TIMEOUT_MS 5000

//  Runs program --version with its output in first_line (its first line);
//  returns its exit code, or -1 when it cannot run or did not end in time
static int
s_run_version (const char *program, char *first_line, size_t size)
{
    int pipe_fds [2];
    *first_line = 0;
    if (pipe (pipe_fds))
        return -1;
    pid_t pid = fork ();
    if (pid == 0) {
        int null_fd = open ("/dev/null", O_RDONLY);
        dup2 (null_fd, STDIN_FILENO);
        dup2 (pipe_fds [1], STDOUT_FILENO);
        dup2 (pipe_fds [1], STDERR_FILENO);
        close (pipe_fds [0]);
        execlp (program, program, "--version", (char *) NULL);
        _exit (127);
    }
    close (pipe_fds [1]);
    if (pid < 0) {
        close (pipe_fds [0]);
        return -1;
    }
    fcntl (pipe_fds [0], F_SETFL, O_NONBLOCK);
    char output [4096];
    size_t used = 0;
    int status = 0;
    int64_t deadline = zclock_mono () + VERSION_TIMEOUT_MS;
    bool ended = false;
    while (!ended && zclock_mono () < deadline) {
        ssize_t got = read (pipe_fds [0], output + used, sizeof (output) - 1 - used);
        if (got > 0)
            used += (size_t) got;
        ended = waitpid (pid, &status, WNOHANG) == pid;
        if (!ended && got <= 0)
            zclock_sleep (10);
    }
    ssize_t got = read (pipe_fds [0], output + used, sizeof (output) - 1 - used);
    if (got > 0)
        used += (size_t) got;
    close (pipe_fds [0]);
    output [used] = 0;
    //  llama-server prints build lines first; the version line says "version"
    const char *line = strstr (output, "version");
    while (line && line > output && line [-1] != '\n')
        line--;
    snprintf (first_line, size, "%.*s", (int) strcspn (line? line: output, "\n"),
              line? line: output);
    if (!ended) {
        kill (pid, SIGKILL);
        waitpid (pid, &status, 0);
        return -1;
    }
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  Whether program names an executable file (on PATH when it has no '/')
static bool
s_executable (const char *program)
{
    if (strchr (program, '/'))
        return access (program, X_OK) == 0;
    const char *path = getenv ("PATH");
    char *copy = strdup (path? path: "/usr/bin:/bin");
    bool found = false;
    for (char *dir = strtok (copy, ":"); dir && !found; dir = strtok (NULL, ":")) {
        char *full = zsys_sprintf ("%s/%s", dir, program);
        struct stat info;
        found = stat (full, &info) == 0 && S_ISREG (info.st_mode) && access (full, X_OK) == 0;
        zstr_free (&full);
    }
    free (copy);
    return found;
}

static int
s_llama_cpp (zconfig_t *section, const char *name)
{
    int problems = 0;
    const char *binary = zconfig_get (section, "binary", "llama-server");
    char version [256];
    int rc = s_run_version (binary, version, sizeof (version));
    if (rc == 0)
        printf ("ok      backends/%s/binary: %s --version: %s\n", name, binary, version);
    else {
        char failed [32];
        snprintf (failed, sizeof (failed), "failed (exit %d)", rc);
        fprintf (stderr, "problem backends/%s/binary: %s --version %s%s%s\n", name, binary,
                 rc == 127? "did not run (not found or not executable)":
                 rc < 0? "did not end within 5 s": failed,
                 rc == 127 || !*version? "": ": ", rc == 127? "": version);
        problems++;
    }
    zconfig_t *models = zconfig_locate (section, "models");
    for (zconfig_t *model = models? zconfig_child (models): NULL; model;
         model = zconfig_next (model)) {
        const char *path = zconfig_get (model, "path", zconfig_value (model));
        shic_error_t err = { 0 };
        if (!path || !*path)
            continue;               //  (the backend refused that already)
        if (shic_runtime_check_model (path, &err) == 0)
            printf ("ok      backends/%s/models/%s: %s is a GGUF model\n", name,
                    zconfig_name (model), path);
        else {
            fprintf (stderr, "problem backends/%s/models/%s: %s: %s\n", name,
                     zconfig_name (model), path, err.message? err.message: err.code);
            problems++;
        }
        shic_error_clear (&err);
    }
    return problems;
}

static int
s_command (zconfig_t *section, const char *name)
{
    const char *command = zconfig_get (section, "command", "");
    char program [1024];
    snprintf (program, sizeof (program), "%.*s", (int) strcspn (command, " \t"), command);
    if (*program && s_executable (program)) {
        printf ("ok      backends/%s/command: %s is executable\n", name, program);
        return 0;
    }
    fprintf (stderr, "problem backends/%s/command: '%s' is not an executable file%s\n", name,
             program, strchr (program, '/')? "": " on PATH");
    return 1;
}

int
shicd_check (zconfig_t *config, const char *config_file)
{
    int problems = 0;
    zconfig_t *backends = zconfig_locate (config, "backends");
    for (zconfig_t *section = backends? zconfig_child (backends): NULL; section;
         section = zconfig_next (section)) {
        const char *name = zconfig_name (section);
        const char *type = zconfig_get (section, "type", name);
        if (zconfig_get (section, "plugin", NULL))
            printf ("-       backends/%s: a plugin, not checked\n", name);
        else
        if (streq (type, "llama_cpp"))
            problems += s_llama_cpp (section, name);
        else
        if (streq (type, "command"))
            problems += s_command (section, name);
        else
            printf ("-       backends/%s: %s attaches to a server: not contacted\n", name, type);
    }
    if (problems)
        fprintf (stderr, "shicd: %s: %d problem%s\n", config_file? config_file: "configuration",
                 problems, problems == 1? "": "s");
    else
        printf ("shicd: %s: ok\n", config_file? config_file: "configuration");
    return problems;
}

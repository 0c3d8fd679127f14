/*
 * For unit tests whose subject may crash or call fatal(): run it in a
 * child process, so that only that test fails, not the whole program.
 */
#ifndef CHATD_TEST_CHILD_H
#define CHATD_TEST_CHILD_H

#include <sys/wait.h>
#include <unistd.h>

/* Run fn in a child that exits with fn's result; return its wait status. */
static int
in_child(int (*fn)(void))
{
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

#endif

/*
 * A one-header unit-test harness. Each test file defines test functions with
 * TEST(name), lists them in main() with RUN(name), and ends with
 * `return test_summary();`, which prints the closing line CI reads:
 * "N passed, N failed".
 */
#ifndef HERALD_TESTS_UNIT_TEST_H
#define HERALD_TESTS_UNIT_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed, test_failed, test_cur_failed;
static const char *test_cur_name;

#define TEST(name) static void test_##name(void)

#define RUN(name)                                                                                  \
    do {                                                                                           \
        test_cur_name = #name;                                                                     \
        test_cur_failed = 0;                                                                       \
        test_##name();                                                                             \
        if (test_cur_failed)                                                                       \
            test_failed++;                                                                         \
        else                                                                                       \
            test_passed++;                                                                         \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s: %s:%d: %s\n", test_cur_name, __FILE__, __LINE__, #cond);     \
            test_cur_failed = 1;                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ != vb_) {                                                                          \
            fprintf(stderr, "FAIL %s: %s:%d: %s == %s (%lld != %lld)\n", test_cur_name, __FILE__,  \
                    __LINE__, #a, #b, va_, vb_);                                                   \
            test_cur_failed = 1;                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) {                                 \
            fprintf(stderr, "FAIL %s: %s:%d: %s == %s (\"%s\" != \"%s\")\n", test_cur_name,        \
                    __FILE__, __LINE__, #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");       \
            test_cur_failed = 1;                                                                   \
        }                                                                                          \
    } while (0)

static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif

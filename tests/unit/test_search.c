/*
 * Message search's text handling (src/chat/search_text.c): the index terms (words folded,
 * CJK runs cut into bigrams and their last character), the query and its FTS5 and tsquery
 * expressions, the snippet (HTML escaped, marks, ellipses), the term counts that rank hits
 * and the character count.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "chat/search_text.h"

static void check_terms(const char *text, enum search_dialect d, const char *want)
{
    char *got = search_index_terms(text, strlen(text), d);
    CHECK_STR(got, want);
    free(got);
}

static void check_expr(const char *q, enum search_dialect d, const char *want)
{
    struct search_query sq;
    CHECK(search_query_parse(&sq, q, strlen(q)));
    char *got = search_query_expr(&sq, d);
    CHECK_STR(got, want);
    free(got);
}

static void check_snippet(const char *q, const char *text, const char *want)
{
    struct search_query sq;
    CHECK(search_query_parse(&sq, q, strlen(q)));
    char *got = search_snippet(&sq, text, strlen(text));
    CHECK_STR(got, want);
    free(got);
}

TEST(words_are_folded_and_cjk_runs_become_bigrams_and_their_last_character)
{
    check_terms("Hello, WORLD!", SEARCH_FTS5, "hello world");
    check_terms("你好吗", SEARCH_FTS5, "你好 好吗 吗");
    check_terms("订单", SEARCH_FTS5, "订单 单");
    check_terms("好", SEARCH_FTS5, "好");
    /* a script change separates terms; CJK punctuation too */
    check_terms("iPhone15の注文。ＡＢＣ", SEARCH_FTS5, "iphone15 の注 注文 文 abc");
    check_terms("東京タワー", SEARCH_FTS5, "東京 京タ タワ ワー ー");
    check_terms("Ünïcode Ωmega Привет", SEARCH_FTS5, "ünïcode ωmega привет");
    check_terms("  ... ", SEARCH_FTS5, "");
    check_terms("", SEARCH_FTS5, "");
}

TEST(the_tsvector_literal_has_positions_and_quotes)
{
    check_terms("Hi 你好吗", SEARCH_TSVECTOR, "'hi':1 '你好':2 '好吗':3 '吗':4");
    check_terms("", SEARCH_TSVECTOR, "");
}

TEST(long_words_are_cut_on_both_sides_alike)
{
    char text[200];
    memset(text, 'a', 150);
    text[150] = '\0';
    char *t = search_index_terms(text, 150, SEARCH_FTS5);
    CHECK_INT((long)strlen(t), SEARCH_WORD_MAX);
    struct search_query sq;
    CHECK(search_query_parse(&sq, text, 100));
    CHECK_INT(sq.npieces, 1);
    CHECK_INT(sq.pieces[0].len, SEARCH_WORD_MAX);
    free(t);
}

TEST(invalid_utf8_separates_terms)
{
    check_terms("ab\xff"
                "cd\xe4\xbd",
                SEARCH_FTS5, "ab cd");
    CHECK_INT(search_utf8_chars("ab\xff", 3), -1);
    CHECK_INT(search_utf8_chars("\xe4\xbd\xa0\xe5\xa5\xbd", 6), 2);
    CHECK_INT(search_utf8_chars("\xc0\x80", 2), -1);     /* overlong */
    CHECK_INT(search_utf8_chars("\xed\xa0\x80", 3), -1); /* a surrogate */
}

TEST(the_query_expression_for_fts5_and_tsquery)
{
    check_expr("Quick brown FOX", SEARCH_FTS5, "\"quick\" AND \"brown\" AND \"fox\"");
    check_expr("订单", SEARCH_FTS5, "\"订单\"");
    check_expr("订单详情", SEARCH_FTS5, "\"订单 单详 详情\"");
    check_expr("好", SEARCH_FTS5, "\"好\" *");
    check_expr("AND or NOT", SEARCH_FTS5, "\"and\" AND \"or\" AND \"not\"");
    check_expr("iphone 注文", SEARCH_TSVECTOR, "'iphone' & '注文'");
    check_expr("订单详情", SEARCH_TSVECTOR, "('订单' <-> '单详' <-> '详情')");
    check_expr("好", SEARCH_TSVECTOR, "'好':*");
    struct search_query sq;
    CHECK(!search_query_parse(&sq, " ?! -- \xe3\x80\x82", 11));
    CHECK(!search_query_parse(&sq, "", 0));
}

TEST(the_snippet_escapes_html_and_marks_every_occurrence)
{
    check_snippet("jerry 你好", "<b>Tom & Jerry</b> say 'hi' to 你好世界, jerry!",
                  "&lt;b&gt;Tom &amp; <mark>Jerry</mark>&lt;/b&gt; say &#39;hi&#39; to "
                  "<mark>你好</mark>世界, <mark>jerry</mark>!");
    /* a word only as a whole word; a CJK run anywhere */
    check_snippet("cat", "concatenate the cat", "concatenate the <mark>cat</mark>");
    check_snippet("好", "你好吗", "你<mark>好</mark>吗");
    /* no literal occurrence: the beginning, escaped */
    check_snippet("cafe", "café <3", "café &lt;3");
}

TEST(full_width_currency_signs_separate_words_in_the_index_and_the_snippet)
{
    /* U+FFE5 FULLWIDTH YEN SIGN, common in Chinese shop text: not part of the amount */
    check_terms("价格：￥99.00元 ￥88", SEARCH_FTS5, "价格 格 99 00 元 88");
    check_snippet("88", "price ￥88 total", "price ￥<mark>88</mark> total");
    check_snippet("99.00", "价格：￥99.00元", "价格：￥<mark>99</mark>.<mark>00</mark>元");
}

TEST(a_long_text_is_cut_around_the_first_hit)
{
    char text[400] = "";
    for (int i = 0; i < 30; i++)
        strcat(text, "xx ");
    strcat(text, "needle");
    for (int i = 0; i < 30; i++)
        strcat(text, " yy");
    struct search_query sq;
    CHECK(search_query_parse(&sq, "needle", 6));
    char *s = search_snippet(&sq, text, strlen(text));
    CHECK(strncmp(s, "\xe2\x80\xa6", 3) == 0);
    CHECK(strstr(s, "<mark>needle</mark>") != NULL);
    CHECK(strcmp(s + strlen(s) - 3, "\xe2\x80\xa6") == 0);
    /* 20 characters before the hit, 80 in all, plus the marks and two ellipses */
    CHECK_INT((long)strlen(s), 80 + 13 + 6);
    free(s);
}

TEST(term_counts_rank_what_the_snippet_marks)
{
    struct search_query sq;
    CHECK(search_query_parse(&sq, "cat 订单", 10));
    int tf[2];
    const char *t = "cat concatenate CAT 订单订单";
    CHECK_INT(search_term_counts(&sq, t, strlen(t), tf), 24);
    CHECK_INT(tf[0], 2); /* whole words only, any case */
    CHECK_INT(tf[1], 2);
    CHECK_INT(search_term_counts(&sq, "", 0, tf), 0);
    CHECK_INT(tf[0], 0);
}

int main(void)
{
    RUN(words_are_folded_and_cjk_runs_become_bigrams_and_their_last_character);
    RUN(the_tsvector_literal_has_positions_and_quotes);
    RUN(long_words_are_cut_on_both_sides_alike);
    RUN(invalid_utf8_separates_terms);
    RUN(the_query_expression_for_fts5_and_tsquery);
    RUN(the_snippet_escapes_html_and_marks_every_occurrence);
    RUN(full_width_currency_signs_separate_words_in_the_index_and_the_snippet);
    RUN(a_long_text_is_cut_around_the_first_hit);
    RUN(term_counts_rank_what_the_snippet_marks);
    return test_summary();
}

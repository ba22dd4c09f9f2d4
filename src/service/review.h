/*
 * review.h - the prompt review: a word list (one word or phrase per line,
 * '#' starts a comment). A prompt is refused when it contains a listed word
 * or phrase as whole words, ignoring case and punctuation between words.
 */
#ifndef I2V_REVIEW_H
#define I2V_REVIEW_H

#include <stddef.h>

typedef struct i2v_review i2v_review;

/* Loads the list from path; NULL or "" gives the built-in list. Returns NULL
 * with a message when the file cannot be read. */
i2v_review *i2v__review_load(const char *path, char *msg, size_t msglen);
/* From text in memory (same format). */
i2v_review *i2v__review_from_text(const char *text);
void i2v__review_free(i2v_review **r);
/* NULL when the prompt passes, else the listed phrase it hit (owned by r). */
const char *i2v__review_check(const i2v_review *r, const char *prompt);
int i2v__review_count(const i2v_review *r);

#endif

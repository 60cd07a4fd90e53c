/* Request dispatch: ssh-agent message types and the extension verbs. */
#ifndef JIT_DISPATCH_H
#define JIT_DISPATCH_H

struct agent;
struct request;

/* The server's handler of every request (struct agent's dispatch). */
int dispatch(struct agent *ag, struct request *rq);

#endif

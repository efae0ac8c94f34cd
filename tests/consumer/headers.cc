// The installed headers compile as C++ and link (extern "C" guards).
#include <urio.h>

static intptr_t body(void *)
{
	return urio_nop();
}

int main()
{
	intptr_t r = -1;
	return urio_run(nullptr, body, nullptr, &r) || r;
}

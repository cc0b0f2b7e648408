// Memory bandwidth with one and with two threads: a read-modify-write stream over buffers of 1 MB to 128 MB each.
// Build and run: cc -O2 -mavx2 bandwidth.c -o /tmp/bandwidth -lpthread && /tmp/bandwidth
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static long n; static int reps;
static void* work(void*p){ float*a=p; for(int r=0;r<reps;r++){ for(long i=0;i<n/4;i++) a[i]=a[i]*1.0001f+1.0f; } return 0;}
int main(){ long sizes[]={1L<<20, 3L<<20, 8L<<20, 32L<<20, 128L<<20};
 for(int s=0;s<5;s++){ n=sizes[s]; reps=(int)((2L<<30)/n); float*a=malloc(n),*b=malloc(n); memset(a,0,n); memset(b,0,n);
 double t=now(); work(a); double one=now()-t;
 t=now(); pthread_t th; pthread_create(&th,0,work,b); work(a); pthread_join(th,0); double two=now()-t;
 printf("%4ld MB each: one thread %.1f GB/s, two threads %.1f GB/s total\n", n>>20, 2.0*n*reps/one/1e9, 4.0*n*reps/two/1e9); free(a); free(b);}
}

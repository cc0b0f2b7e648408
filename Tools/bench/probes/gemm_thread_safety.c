// Build and run: cc -O2 gemm_thread_safety.c -o /tmp/gemm_thread_safety -lopenblas -lpthread && OPENBLAS_NUM_THREADS=1 /tmp/gemm_thread_safety
// (exit 1 when any concurrent result differs).
// Concurrent single-threaded sgemm calls from two threads, each result compared with one computed alone.
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
extern void openblas_set_num_threads(int);
#define SHAPES 6
static int sh[SHAPES][3]={{1,128,3000},{49,49,32},{256,196,16},{64,490,512},{512,441,64},{300,200,131}};
static float *A[SHAPES],*B[SHAPES],*R[SHAPES];
static long bad=0; static pthread_mutex_t lk=PTHREAD_MUTEX_INITIALIZER;
static void gemm(int s,float*c){int m=sh[s][0],n=sh[s][1],k=sh[s][2]; cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasTrans,m,n,k,1,A[s],k,B[s],k,0,c,n);}
static void* worker(void*p){ long seed=(long)p; float*c=malloc(4L*512*512); long local=0;
  for(int it=0;it<4000;it++){ int s=(int)((seed*7919+it*31)%SHAPES); gemm(s,c); if(memcmp(c,R[s],4L*sh[s][0]*sh[s][1])) local++; }
  pthread_mutex_lock(&lk); bad+=local; pthread_mutex_unlock(&lk); free(c); return 0;}
int main(){ openblas_set_num_threads(1);
  for(int s=0;s<SHAPES;s++){int m=sh[s][0],n=sh[s][1],k=sh[s][2]; A[s]=malloc(4L*m*k); B[s]=malloc(4L*n*k); R[s]=malloc(4L*m*n);
    for(long i=0;i<(long)m*k;i++)A[s][i]=(float)((i*37)%101)/50.0f-1; for(long i=0;i<(long)n*k;i++)B[s][i]=(float)((i*53)%97)/48.0f-1; gemm(s,R[s]);}
  pthread_t t[2]; for(long i=0;i<2;i++) pthread_create(&t[i],0,worker,(void*)(i+1)); for(int i=0;i<2;i++) pthread_join(t[i],0);
  printf("8000 concurrent calls, %ld results different from the sequential ones\n",bad); return bad!=0;}

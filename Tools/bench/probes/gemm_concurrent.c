// Two independent single-threaded GEMMs at once, one per core, against one alone: a ratio near 2 means the
// product is bound by memory the cores share. Build and run:
// cc -O2 gemm_concurrent.c -o /tmp/gemm_concurrent -lopenblas -lpthread && OPENBLAS_CORETYPE=SkylakeX /tmp/gemm_concurrent
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
extern void openblas_set_num_threads(int);
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct {int ta,tb,m,n,k,lda,ldb,ldc; float*a,*b,*c; int reps;} job;
static void* run(void*p){job*j=p; for(int r=0;r<j->reps;r++) cblas_sgemm(CblasRowMajor,j->ta?CblasTrans:CblasNoTrans,j->tb?CblasTrans:CblasNoTrans,j->m,j->n,j->k,1,j->a,j->lda,j->b,j->ldb,1,j->c,j->ldc); return 0;}
job mk(int tb,int m,int n,int k){ job j={0,tb,m,n,k,k,tb?k:n,n,malloc(4L*m*k),malloc(4L*k*n),calloc((long)m*n,4),20}; for(long i=0;i<(long)m*k;i++)j.a[i]=(i%7)*0.1f; for(long i=0;i<(long)k*n;i++)j.b[i]=(i%5)*0.1f; return j;}
int main(){ openblas_set_num_threads(1);
  int shapes[][4]={{64,512,6272,1},{64,512,6272,0},{6272,384,128,0},{512,6272,64,1}};
  for(int s=0;s<4;s++){ job a=mk(shapes[s][3],shapes[s][0],shapes[s][1],shapes[s][2]), b=mk(shapes[s][3],shapes[s][0],shapes[s][1],shapes[s][2]);
   double t=now(); run(&a); double one=now()-t;
   t=now(); pthread_t th; pthread_create(&th,0,run,&b); run(&a); pthread_join(th,0); double two=now()-t;
   printf("%d x %d x %d transB=%d: one %.1f ms, two concurrent %.1f ms (ratio %.2f)\n",shapes[s][0],shapes[s][1],shapes[s][2],shapes[s][3],one*1e3/20,two*1e3/20,two/one);}
}

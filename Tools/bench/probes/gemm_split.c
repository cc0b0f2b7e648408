// GEMM of the reference models' shapes: one thread, OpenBLAS's own two threads, and two single-threaded halves
// (what the engine does, Kernels/Gemm.swift). Build and run (best of 20, GFLOP/s):
// cc -O2 gemm_split.c -o /tmp/gemm_split -lopenblas -lpthread && OPENBLAS_CORETYPE=SkylakeX /tmp/gemm_split
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
extern void openblas_set_num_threads(int);
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct {int m,n,k; float*a,*b,*c;} job;
static void* run(void*p){job*j=p; cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,j->m,j->n,j->k,1,j->a,j->k,j->b,j->n,0,j->c,j->n); return 0;}
int main(int argc,char**argv){
  int shapes[][3]={{6272,384,128},{6272,128,128},{6272,512,128},{6272,128,512},{12544,64,512},{12544,64,576},{50176,32,16},{12544,512,64},{2048,2048,2048}};
  for(int s=0;s<9;s++){int m=shapes[s][0],n=shapes[s][1],k=shapes[s][2];
    float*a=malloc(sizeof(float)*m*k),*b=malloc(sizeof(float)*k*n),*c=malloc(sizeof(float)*m*n);
    for(long i=0;i<(long)m*k;i++)a[i]=(i%7)*0.1f; for(long i=0;i<(long)k*n;i++)b[i]=(i%5)*0.1f;
    int reps = s==8?3:20; double best[3]={1e9,1e9,1e9};
    for(int r=0;r<reps;r++){
      openblas_set_num_threads(1); double t=now(); job j={m,n,k,a,b,c}; run(&j); t=now()-t; if(t<best[0])best[0]=t;
      openblas_set_num_threads(2); t=now(); run(&j); t=now()-t; if(t<best[1])best[1]=t;
      openblas_set_num_threads(1); t=now(); pthread_t th; job j1={m/2,n,k,a,b,c}; job j2={m-m/2,n,k,a+(long)(m/2)*k,b,c+(long)(m/2)*n};
      pthread_create(&th,0,run,&j1); run(&j2); pthread_join(th,0); t=now()-t; if(t<best[2])best[2]=t;
    }
    double fl=2.0*m*n*k*1e-9;
    printf("%6d x %5d x %5d: 1thr %6.1f  blas2 %6.1f  split2 %6.1f GFLOP/s\n",m,n,k,fl/best[0],fl/best[1],fl/best[2]);
    free(a);free(b);free(c);}
}

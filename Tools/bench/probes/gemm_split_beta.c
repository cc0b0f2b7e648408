// Weight-gradient-like shapes (C accumulated, beta 1 by default; BETA0=1 for beta 0): one thread, OpenBLAS's
// own two threads, two single-threaded halves (ROWS=1 splits rows). Build and run:
// cc -O2 gemm_split_beta.c -o /tmp/gemm_split_beta -lopenblas -lpthread && OPENBLAS_CORETYPE=SkylakeX /tmp/gemm_split_beta
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static float BETA=1;
extern void openblas_set_num_threads(int);
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct {int ta,tb,m,n,k,lda,ldb,ldc; float*a,*b,*c;} job;
static void* run(void*p){job*j=p; cblas_sgemm(CblasRowMajor,j->ta?CblasTrans:CblasNoTrans,j->tb?CblasTrans:CblasNoTrans,j->m,j->n,j->k,1,j->a,j->lda,j->b,j->ldb,BETA,j->c,j->ldc); return 0;}
int main(){ if(getenv("BETA0")) BETA=0;
  // dW shapes: m=Cout, n=K, k=B*HW, A=[m,k] , B^T stored [n,k]
  int shapes[][3]={{32,16,25088},{64,512,6272},{64,576,6272},{64,576,6272*2},{32,1024,25088/1},{512,6272,64},{1024,25088,32}};
  for(int s=0;s<7;s++){int m=shapes[s][0],n=shapes[s][1],k=shapes[s][2];
    float*a=malloc(sizeof(float)*m*k),*b=malloc(sizeof(float)*k*n),*c=malloc(sizeof(float)*m*n);
    for(long i=0;i<(long)m*k;i++)a[i]=(i%7)*0.1f; for(long i=0;i<(long)k*n;i++)b[i]=(i%5)*0.1f; for(long i=0;i<(long)m*n;i++)c[i]=0;
    double best[3]={1e9,1e9,1e9};
    for(int r=0;r<15;r++){
      job j={0,1,m,n,k,k,k,n,a,b,c};
      openblas_set_num_threads(1); double t=now(); run(&j); t=now()-t; if(t<best[0])best[0]=t;
      openblas_set_num_threads(2); t=now(); run(&j); t=now()-t; if(t<best[1])best[1]=t;
      openblas_set_num_threads(1); t=now(); pthread_t th;
      job j1=j, j2=j;
      if (getenv("ROWS") ? 1 : m>=n){ j1.m=m/2; j2.m=m-m/2; j2.a=a+(long)(m/2)*k; j2.c=c+(long)(m/2)*n; }
      else { j1.n=n/2; j2.n=n-n/2; j2.b=b+(long)(n/2)*k; j2.c=c+n/2; }
      pthread_create(&th,0,run,&j1); run(&j2); pthread_join(th,0); t=now()-t; if(t<best[2])best[2]=t;
    }
    double fl=2.0*m*n*k*1e-9;
    printf("dW %5d x %5d x %6d: 1thr %6.1f  blas2 %6.1f  split2 %6.1f GFLOP/s\n",m,n,k,fl/best[0],fl/best[1],fl/best[2]);
    free(a);free(b);free(c);}
}

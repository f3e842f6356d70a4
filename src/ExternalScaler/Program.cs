// The KEDA external scaler. Hosting is assembled in Hosting/ScalerApplication.cs.
return 0;

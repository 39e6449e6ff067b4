"""Headless engine of Small Model Studio. Never imports Qt; imports TensorFlow only on demand."""
